// Writes JaCoCo's XML report for an execution data file (the CLI jar is not packaged by
// Debian, the core and report libraries are). Usage: AssayJacocoXml EXEC CLASSES SOURCES OUT
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import org.jacoco.core.analysis.Analyzer;
import org.jacoco.core.analysis.CoverageBuilder;
import org.jacoco.core.tools.ExecFileLoader;
import org.jacoco.report.DirectorySourceFileLocator;
import org.jacoco.report.IReportVisitor;
import org.jacoco.report.xml.XMLFormatter;

public final class AssayJacocoXml {
    private AssayJacocoXml() {}

    public static void main(String[] args) throws IOException {
        ExecFileLoader loader = new ExecFileLoader();
        File exec = new File(args[0]);
        if (exec.isFile()) {
            loader.load(exec);
        }
        CoverageBuilder builder = new CoverageBuilder();
        new Analyzer(loader.getExecutionDataStore(), builder).analyzeAll(new File(args[1]));
        try (OutputStream out = new FileOutputStream(args[3])) {
            IReportVisitor visitor = new XMLFormatter().createVisitor(out);
            visitor.visitInfo(loader.getSessionInfoStore().getInfos(),
                              loader.getExecutionDataStore().getContents());
            visitor.visitBundle(builder.getBundle("assay"),
                                new DirectorySourceFileLocator(new File(args[2]), "utf-8", 4));
            visitor.visitEnd();
        }
    }
}
